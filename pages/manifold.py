import streamlit as st

st.title("manifold")
st.info("Under construction.")
