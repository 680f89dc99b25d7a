import streamlit as st

st.title("train")
st.info("Under construction.")
