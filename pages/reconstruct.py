import streamlit as st

st.title("reconstruct")
st.info("Under construction.")
